"""The release on merge: plan, journal and settings; full generation, training, the evaluation gate;
the Hugging Face Hub edge, the model card, release notes and the announcement on GitHub.

May import: bot.taxonomy, bot.lint, bot.generation, bot.github, bot.errors, bot.safetext.
"""
