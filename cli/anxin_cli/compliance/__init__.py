"""`anxin compliance report`: evidence from the running suite that each control works.

Everything here talks to the gateway's public API only (no service code), plus
the shared policy engine for the catalogue's policy checks.
"""
