"""The taxonomy model: YAML documents with positions, leaves and trees (a folder or a commit), the
leaves a change touches, `.taxbot.yaml`, and the one neutral finding type. Pure values; no network.

May import: bot.errors.
"""
