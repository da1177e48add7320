"""taxbot trainer: two-phase (knowledge, then skills) tuning of the community model."""
