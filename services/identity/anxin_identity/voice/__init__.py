"""Voiceprints: consented enrollment, verification, a fraud watchlist, deletion on withdrawal."""
