"""taxbot: review-and-release bot for community-grown LLM taxonomies.

Two loops run through this package. The review of a pull request reads the taxonomy, lints the changed
leaves, looks for duplicates and gaps, samples synthetic pairs and writes one review to GitHub; the
release on merge generates full sets, trains, gates, publishes to the Hub and announces.

Packages, from the bottom up; each may import only those below it, as its own docstring says:

    taxonomy     the model: YAML with positions, leaves and trees, changes, `.taxbot.yaml`, findings
    lint         every problem of a leaf file: schema, the community's rules, many files at once
    similar      near-duplicate seeds against a tree's seed index
    generation   the teacher endpoint, LAB prompts and pipelines, documents, training records
    gaps         thin and empty branches, where a change lands, what the student already knows
    (review, parts)  one review of a change, composed of lint and the parts above
    github       the GitHub edge: client, comments, publishing, commands, Actions events
    release      plan, journal, settings, gate, Hub, card, notes, announcement
    (cli)        the command line, on top of everything

`errors` (exit codes, the usage error) and `safetext` (untrusted text made safe for GitHub) import
nothing of taxbot's, so any module may use them.
"""
