"""Customer security education and fraud alerts: templates, campaigns, opt-outs, delivery."""
