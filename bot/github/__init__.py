"""The GitHub edge: the configured client, a review rendered as a check run, inline comments and one
summary comment, writing them to a pull request, comment commands, what the trusted run believes (only
GitHub, never the untrusted run), and what each Actions event does.

May import: bot.review, bot.parts, bot.taxonomy, bot.lint, bot.similar, bot.gaps, bot.generation, bot.triage,
bot.errors, bot.safetext.
"""
