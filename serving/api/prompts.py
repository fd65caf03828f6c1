"""From an OpenAI request to prompt token ids: tokenising, chat templates, the context check.

Chat requests use the tokenizer's own chat template (the format the model was tuned on) when it
has one. A base model without a template gets this plain-text one, which is documented because
clients of such a model may want to write it themselves in a completion prompt::

    System: <system message>
    User: <user message>
    Assistant: <assistant message>
    Assistant:

one line per message (`developer` messages count as `System`), the prompt ending with
`Assistant:` so that the model continues as the assistant.
"""

from collections.abc import Sequence

from jinja2 import TemplateError
from transformers import PreTrainedTokenizerBase

from serving.api.errors import ApiError
from serving.api.schemas import ChatMessage, Prompt

PLAIN_ROLES = {"system": "System", "developer": "System", "user": "User", "assistant": "Assistant"}


def completion_prompts(tokenizer: PreTrainedTokenizerBase, prompt: Prompt) -> list[list[int]]:
    """The token ids of each prompt of a completion request (one request may carry several)."""
    if isinstance(prompt, str):
        texts_or_ids: Sequence[str | list[int]] = [prompt]
    elif prompt and all(isinstance(token, int) for token in prompt):
        texts_or_ids = [prompt]  # type: ignore[list-item]
    else:
        texts_or_ids = prompt  # type: ignore[assignment]
    if not texts_or_ids:
        raise ApiError(400, "prompt: must not be empty", param="prompt")
    vocab = len(tokenizer)
    prompts = []
    for item in texts_or_ids:
        if isinstance(item, str):
            ids = tokenizer.encode(item, add_special_tokens=True)
        else:
            ids = list(item)
            if any(not 0 <= token < vocab for token in ids):
                raise ApiError(400, f"prompt: token ids must be in [0, {vocab})", param="prompt")
        if not ids:
            raise ApiError(400, "prompt: must not be empty", param="prompt")
        prompts.append(ids)
    return prompts


def chat_prompt(tokenizer: PreTrainedTokenizerBase, messages: list[ChatMessage]) -> list[int]:
    """The token ids of a conversation, ready for the assistant's next message."""
    if tokenizer.chat_template:
        conversation = [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
            for m in messages
        ]
        try:
            text = tokenizer.apply_chat_template(
                conversation, add_generation_prompt=True, tokenize=False
            )
        except TemplateError as exc:  # e.g. a template that insists on alternating roles
            raise ApiError(400, f"messages: {exc}", param="messages") from exc
        return tokenizer.encode(text, add_special_tokens=False)
    lines = [f"{PLAIN_ROLES[m.role]}: {m.text()}\n" for m in messages]
    return tokenizer.encode("".join(lines) + "Assistant:", add_special_tokens=True)


def completion_budget(
    prompt_len: int, max_tokens: int | None, max_model_len: int, param: str
) -> int:
    """How many tokens may be generated after a prompt of `prompt_len` tokens.

    `max_tokens=None` means "as many as the context allows" (OpenAI's chat default). A prompt
    that leaves no room, or an explicit `max_tokens` beyond the context, is refused with 400, as
    OpenAI and vLLM do: silently generating less than asked would look like a model decision.
    """
    room = max_model_len - prompt_len
    if room < 1 or (max_tokens is not None and max_tokens > room):
        asked = prompt_len + (max_tokens or 0)
        raise ApiError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. However, you "
            f"requested {asked} tokens ({prompt_len} in the {param}, {max_tokens or 0} for the "
            f"completion). Please reduce the length of the {param} or completion.",
            param=param if room < 1 else "max_tokens",
            code="context_length_exceeded",
        )
    return room if max_tokens is None else max_tokens
