"""The real model the tests use answers as the real thing does: llama.cpp's server and transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_model


def test_llama_cpp_serves_smollm2_with_json_schema_output(smollm2_teacher: str) -> None:
    """llama-cpp-python's server takes a schema as `{"type": "json_object", "schema": ...}`; OpenAI's own
    `{"type": "json_schema", ...}` it answers with a 500 naming `response_format`."""
    from openai import InternalServerError, OpenAI

    client = OpenAI(base_url=smollm2_teacher, api_key="unused", max_retries=0)
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    messages = [{"role": "user", "content": "What is the capital of France? Answer in JSON."}]
    with pytest.raises(InternalServerError, match="response_format"):
        client.chat.completions.create(
            model="smollm2",
            messages=messages,  # type: ignore[arg-type]
            response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
            max_tokens=8,
        )
    reply = client.chat.completions.create(
        model="smollm2",
        messages=messages,  # type: ignore[arg-type]
        response_format={"type": "json_object", "schema": schema},  # type: ignore[typeddict-item]
        temperature=0,
        seed=1,
        max_tokens=64,
    )
    choice = reply.choices[0]
    assert choice.finish_reason in {"stop", "length"}
    if choice.finish_reason == "stop":
        assert isinstance(json.loads(choice.message.content or "")["answer"], str)


@pytest.mark.slow
def test_smollm2_loads_as_a_plain_trainable_model(smollm2_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_model)
    model = AutoModelForCausalLM.from_pretrained(smollm2_model)
    assert tokenizer.chat_template
    assert getattr(model, "hf_quantizer", None) is None
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0][prompt["input_ids"].shape[1] :])
