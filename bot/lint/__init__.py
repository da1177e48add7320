"""Lint: every problem of a leaf file in one pass (yamllint, instructlab-schema's JSON schema, the
community's rules), over one change or many files, and its renderings as text, JSON and Actions lines.

May import: bot.taxonomy, bot.errors.
"""
