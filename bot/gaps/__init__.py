"""Gaps: where the tree is thin or empty, where a change lands in it, and which of its seed questions the
current student model already answers (asked through the generation package's model client).

May import: bot.taxonomy, bot.similar, bot.generation, bot.errors, bot.safetext.
"""
