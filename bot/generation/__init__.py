"""Generation: the teacher (any OpenAI-compatible endpoint), LAB prompts and pipelines that turn a leaf's
seeds into judged synthetic pairs, knowledge documents, and the training records of the two phases.

May import: bot.taxonomy, bot.errors, bot.safetext.
"""
