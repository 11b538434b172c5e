"""Formatting a chat conversation into one prompt string for a local model.

A GGUF file usually carries its chat template (``tokenizer.chat_template``,
Jinja, as in Hugging Face tokenizers). It is rendered in a sandboxed Jinja
environment (a template is data from a downloaded file, so it must not reach
Python objects). A model without a template gets ChatML
(``<|im_start|>role\\n...<|im_end|>\\n``), what Qwen and many code models use.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

from codex_ls.engines.base import ChatMessage, GenerationError

CHATML_END = "<|im_end|>"
"""End of a ChatML turn; always a stop string for chat generation."""

# Markers that end an assistant turn in the common templates (ChatML, Llama 3,
# Gemma, Phi-3, DeepSeek); generation stops at the first one.
TURN_ENDS: tuple[str, ...] = (CHATML_END, "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|EOT|>", "<｜end▁of▁sentence｜>")


def chatml(messages: Sequence[ChatMessage]) -> str:
    """The ChatML prompt for ``messages``, ending with the open assistant turn."""
    parts = [f"<|im_start|>{m.role}\n{m.content}{CHATML_END}\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


@lru_cache(maxsize=8)
def _compile(template: str):
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def format_chat(messages: Sequence[ChatMessage], template: str | None, *, bos_token: str = "", eos_token: str = "") -> str:
    """Render ``messages`` with ``template`` (ChatML when ``None``), adding the assistant turn.

    Args:
        messages: the conversation, oldest first.
        template: a Hugging Face style Jinja chat template, or ``None``.
        bos_token, eos_token: the model's BOS/EOS token text, which templates
            may write (``{{ bos_token }}``).

    Returns:
        The prompt text; special tokens in it are meant to be parsed as
        special tokens when tokenized.

    Raises:
        GenerationError: no messages, or the template fails to render.
    """
    if not messages:
        raise GenerationError("a chat needs at least one message")
    if not template:
        return chatml(messages)
    try:
        return _compile(template).render(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except Exception as exc:  # jinja2 TemplateError, SecurityError, or a template bug
        raise GenerationError(f"the model's chat template failed to render: {exc}") from exc
