"""Valid leaves of each kind, as text, for tests to start from and break one thing at a time."""

from __future__ import annotations

ATTRIBUTION = """Title of work: Test seeds
Link to work: -
Revision: -
License of the work: CC-BY-4.0
Creator names: taxbot tests
"""


def freeform_skill(n: int = 5, version: int = 3) -> str:
    seeds = "".join(
        f"  - question: What is {i} plus {i}?\n    answer: {i} plus {i} is {2 * i}.\n" for i in range(1, n + 1)
    )
    return (
        f"version: {version}\ncreated_by: tester\n"
        "task_description: Add two small numbers and say the sum in a sentence.\n"
        f"seed_examples:\n{seeds}"
    )


def grounded_skill(n: int = 5) -> str:
    seeds = "".join(
        f"  - context: The shop sold {i} apples on day {i}.\n"
        f"    question: How many apples were sold on day {i}?\n"
        f"    answer: The shop sold {i} apples on day {i}.\n"
        for i in range(1, n + 1)
    )
    return f"version: 3\ncreated_by: tester\ntask_description: Answer from the sales note.\nseed_examples:\n{seeds}"


def knowledge(n: int = 5, commit: str = "0123456789abcdef0123456789abcdef01234567") -> str:
    seeds = ""
    for i in range(1, n + 1):
        seeds += f"  - context: |\n      Fact block {i}: the lake has {i} islands and {i + 1} bays.\n"
        seeds += "    questions_and_answers:\n"
        for j in range(3):
            seeds += f"      - question: Block {i} question {j}, how many islands?\n"
            seeds += f"        answer: There are {i} islands (answer {j}).\n"
    return (
        "version: 3\ncreated_by: tester\ndomain: geography\n"
        "document_outline: Facts about a lake\n"
        f"document:\n  repo: https://example.invalid/docs.git\n  commit: {commit}\n  patterns:\n    - lake.md\n"
        f"seed_examples:\n{seeds}"
    )
