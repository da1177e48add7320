"""Similar: near-duplicate seed questions, answers and contexts, found in a seed index of the tree that
is built with exact prefix filtering and cached per base commit, and their renderings.

May import: bot.taxonomy, bot.errors, bot.safetext.
"""
