"""Triage: what triagers checked on every pull request by hand. Personal data and secrets, abuse,
machine-written answers and the quality of the seeds, each a finding with its evidence; the teacher gives
a second opinion where one is configured.

The libraries (Presidio, detect-secrets, the profanity classifier) are imported on first use, so
`taxbot lint` never pays for them.

May import: bot.taxonomy, bot.similar, bot.generation, bot.errors.
"""
