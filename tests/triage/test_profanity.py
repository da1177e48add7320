"""The profanity classifier read without scikit-learn gives the package's own probabilities."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import subprocess_env
from tests.triage.evalset import ABUSE_TEMPLATES, INSULTS

SENTENCES = [t.format(i=i) for t in ABUSE_TEMPLATES for i in INSULTS[:3]] + [
    "The names of the two sons are Dick and Hardy.", "Personally, I wouldn't give a crap about some cheating loser.",
    "Reverse the digits of 6735725342.", "A false dilemma limits the options to two.", "", "!!!", "hate hate hate",
]  # fmt: skip

# In a fresh interpreter: the model read without scikit-learn first, then the package itself.
COMPARE = f"""
import json, sys
from bot.triage.profanity import LinearProfanity, load_classifier
ours = load_classifier()
assert isinstance(ours, LinearProfanity) and "sklearn" not in sys.modules, type(ours)
sentences = {SENTENCES!r}
mine = ours.predict_prob(sentences)
sys.modules["pandas"] = None
from profanity_check import profanity_check
theirs = profanity_check.predict_prob(sentences)
print(json.dumps({{"diff": float(abs(mine - theirs).max()), "insults": [float(p) for p in mine[:3]],
                  "after": type(load_classifier()).__name__}}))
"""


def test_the_model_read_without_scikit_learn_scores_as_the_package_does() -> None:
    result = subprocess.run([sys.executable, "-c", COMPARE], capture_output=True, text=True, env=subprocess_env(),
                            timeout=120, check=True)  # fmt: skip
    found = json.loads(result.stdout)
    assert found["diff"] < 1e-9
    assert min(found["insults"]) > 0.96  # the insults score as insults: the comparison is not of zeros
    assert found["after"] == "module"  # once scikit-learn is loaded anyway, the package itself is used
