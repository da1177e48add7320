"""A local model answering the gate's questions with transformers generate: greedy, batched, loaded per use."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer.errors import TrainerError


@dataclass(frozen=True)
class LocalAnswerer:
    """Answers with the model in `model_dir` (a save_pretrained folder or a Hub name).

    The model is loaded for one `answer` call and freed after it, so the previous release and the candidate
    never hold a GPU at the same time.
    """

    model_dir: str
    max_new_tokens: int = 256
    batch_size: int = 8

    def answer(self, prompts: Sequence[str]) -> list[str]:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_dir, padding_side="left")
            model = AutoModelForCausalLM.from_pretrained(
                self.model_dir, dtype=torch.bfloat16 if device == "cuda" else torch.float32
            ).to(device)
        except OSError as error:
            raise TrainerError(f"cannot load the model {self.model_dir} to answer the gate: {error}") from error
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.eval()
        answers: list[str] = []
        try:
            for start in range(0, len(prompts), self.batch_size):
                texts = [
                    tokenizer.apply_chat_template(
                        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
                    )
                    for prompt in prompts[start : start + self.batch_size]
                ]
                # The chat template writes the special tokens itself; adding them again would double the BOS.
                batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
                with torch.inference_mode():
                    output = model.generate(
                        **batch,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        pad_token_id=tokenizer.pad_token_id,
                    )
                new_tokens = output[:, batch["input_ids"].shape[1] :]
                answers += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
        finally:
            del model
            gc.collect()
            if device == "cuda":
                torch.cuda.empty_cache()
        return answers
