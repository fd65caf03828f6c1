"""The OpenAI-compatible HTTP layer, driven over real HTTP by the official `openai` client.

The app runs under uvicorn in a thread. Behind it: a scripted engine that emits a known token
sequence of the real tiny tokenizer, and in-memory catalogue and cashier classes; the real ones
are tested end to end elsewhere.
"""

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import httpx2
import openai
import pytest
import uvicorn
from eth_utils import keccak
from openai import OpenAI
from transformers import PreTrainedTokenizerFast

from openledger.contracts.exceptions import RpcFailed
from serving.api.app import build_app
from serving.api.config import ApiLimits
from serving.api.ports import (
    AnsweredChoice,
    Charge,
    ModelCard,
    PaymentRequired,
    Unauthorized,
    UnknownModel,
)
from serving.engine.request import FinishReason, GenerationRequest, TokenEvent
from serving.lora.manager import AdapterManager, UnknownAdapter
from serving.tiny_model import train_tokenizer
from tests.helpers.waiting import wait_for

SCRIPT = (
    "In a small town by the river there lived a keeper of records. Every morning "
    "she wrote café €5 😀 in the great ledger on her desk."
)
BASE = ModelCard("tiny-gpt2", "openledger", 1_700_000_000, None, None, 0)
PAID = ModelCard("adapter-1", "0xowner", 1_700_000_100, "a1", 1, 10**15)
MAX_MODEL_LEN = 256


class ScriptedEngine:
    """A `GenerationEngine` that emits SCRIPT's tokens, then end-of-text.

    Greedy (temperature 0) requests always get SCRIPT; sampled ones get it rotated by an amount
    drawn from `random.Random(seed)`, so that seeds matter and repeat. `delay` slows each token;
    `fail_before`/`fail_after` make it raise before the first event or after some tokens.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerFast, delay: float = 0.0) -> None:
        self.tokens = tokenizer.encode(SCRIPT)
        self.eos = tokenizer.eos_token_id
        self.delay = delay
        self.fail_before: Exception | None = None
        self.fail_after: int | None = None
        self.reset()

    def reset(self) -> None:
        self.requests: list[GenerationRequest] = []
        self.aborted: list[str] = []
        self.closed: list[str] = []

    def script(self, request: GenerationRequest) -> list[int]:
        if request.params.temperature == 0:
            return self.tokens
        shift = random.Random(request.params.seed).randrange(len(self.tokens))
        return self.tokens[shift:] + self.tokens[:shift]

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        self.requests.append(request)
        return self._generate(request)

    async def _generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        if self.fail_before is not None:
            raise self.fail_before
        limit = request.params.max_tokens
        try:
            for produced, token in enumerate([*self.script(request), self.eos], start=1):
                await asyncio.sleep(self.delay)
                if request.request_id in self.aborted:
                    yield TokenEvent(None, FinishReason.ABORTED)
                    return
                if self.fail_after is not None and produced > self.fail_after:
                    raise RuntimeError("secret engine failure")
                if token == self.eos:
                    yield TokenEvent(token, FinishReason.STOP)
                elif produced == limit:
                    yield TokenEvent(token, FinishReason.LENGTH)
                else:
                    yield TokenEvent(token)
                if produced == limit:
                    return
        finally:
            self.closed.append(request.request_id)

    def abort(self, request_id: str) -> None:
        self.aborted.append(request_id)


class Catalog:
    def models(self) -> list[ModelCard]:
        return [BASE, PAID]

    def resolve(self, model: str) -> ModelCard:
        for card in self.models():
            if card.id == model:
                return card
        raise UnknownModel(f"The model '{model}' does not exist")


@dataclass
class Cashier:
    """Key "good" pays, "poor" has no balance, "offline" finds the chain node down, anything else
    is refused; the base model is free."""

    records: list[tuple[Charge, ModelCard, bytes, bytes]] = field(default_factory=list)
    cancelled: list[Charge] = field(default_factory=list)

    def authorize(self, api_key: str | None, card: ModelCard) -> Charge | None:
        if card.price_per_call == 0:
            return None
        if api_key == "poor":
            raise PaymentRequired("balance below the price of adapter-1")
        if api_key == "offline":
            raise RpcFailed("InferencePayments.balanceOf: cannot reach the node at http://x")
        if api_key != "good":
            raise Unauthorized("invalid API key")
        return Charge("0xuser", card.price_per_call, f"session-{len(self.records)}")

    def record(
        self,
        charge: Charge,
        card: ModelCard,
        request_hash: bytes,
        output_hash: bytes,
        choices: Sequence[AnsweredChoice],
    ):
        self.records.append((charge, card, request_hash, output_hash, list(choices)))
        return f"0x{len(self.records):064x}"

    def cancel(self, charge: Charge) -> None:
        self.cancelled.append(charge)


class Server:
    """uvicorn serving `app` on a free port, in a thread."""

    def __init__(self, app) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Service:
    url: str
    engine: ScriptedEngine
    cashier: Cashier
    app: object

    def client(self, api_key: str = "good") -> OpenAI:
        return OpenAI(base_url=self.url + "/v1", api_key=api_key, max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return train_tokenizer()


def start_service(
    engine: ScriptedEngine,
    tokenizer: PreTrainedTokenizerFast,
    adapters: AdapterManager | None = None,
    **limits,
) -> tuple[Server, Service]:
    cashier = Cashier()
    app = build_app(
        engine,
        Catalog(),
        cashier,
        tokenizer,
        adapters,  # only the upload endpoint uses it: see test_api_adapters.py
        limits=ApiLimits(**{"max_model_len": MAX_MODEL_LEN, **limits}),
    )
    server = Server(app)
    return server, Service(server.url, engine, cashier, app)


@pytest.fixture(scope="module")
def shared_service(tokenizer) -> Iterator[Service]:
    server, service = start_service(ScriptedEngine(tokenizer), tokenizer)
    yield service
    server.stop()


@pytest.fixture
def serve(tokenizer, shared_service):
    """serve(): the module's service, its engine and cashier reset; serve(fresh=True, engine=...,
    tokenizer_=..., **limits): a service of its own (stopping uvicorn takes a while)."""
    servers: list[Server] = []

    def start(
        engine: ScriptedEngine | None = None,
        tokenizer_: PreTrainedTokenizerFast = tokenizer,
        fresh: bool = False,
        **limits,
    ) -> Service:
        if not (engine or fresh or limits or tokenizer_ is not tokenizer):
            shared_service.engine.reset()
            shared_service.cashier.records.clear()
            shared_service.cashier.cancelled.clear()
            return shared_service
        server, service = start_service(engine or ScriptedEngine(tokenizer), tokenizer_, **limits)
        servers.append(server)
        return service

    yield start
    for server in servers:
        server.stop()


def script_text(tokenizer, tokens: int | None = None) -> str:
    ids = tokenizer.encode(SCRIPT)
    return tokenizer.decode(ids[:tokens])


# Listing, completing, chatting.


def test_models_lists_the_catalogue(serve):
    service = serve()
    models = service.client().models.list()
    assert [(m.id, m.object, m.created, m.owned_by) for m in models.data] == [
        ("tiny-gpt2", "model", BASE.created, "openledger"),
        ("adapter-1", "model", PAID.created, "0xowner"),
    ]


def test_completion_returns_text_usage_and_length_finish(serve, tokenizer):
    service = serve()
    prompt = "The keeper of records"
    result = service.client().completions.create(
        model="tiny-gpt2", prompt=prompt, max_tokens=5, temperature=0
    )
    assert result.object == "text_completion"
    assert result.id.startswith("cmpl-")
    assert result.model == "tiny-gpt2"
    assert [(c.index, c.text, c.finish_reason) for c in result.choices] == [
        (0, script_text(tokenizer, 5), "length")
    ]
    prompt_tokens = len(tokenizer.encode(prompt))
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (prompt_tokens, 5)
    assert result.usage.total_tokens == prompt_tokens + 5
    (request,) = service.engine.requests
    assert request.prompt_ids == tokenizer.encode(prompt)
    assert request.adapter_id is None
    assert (request.params.max_tokens, request.params.temperature) == (5, 0)


def test_completion_defaults_to_16_tokens_and_stops_at_end_of_text(serve, tokenizer):
    service = serve()
    client = service.client()
    short = client.completions.create(model="tiny-gpt2", prompt="The", temperature=0)
    assert short.usage.completion_tokens == 16
    whole = client.completions.create(
        model="tiny-gpt2", prompt="The", temperature=0, max_tokens=200
    )
    assert whole.choices[0].text == SCRIPT
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage.completion_tokens == len(tokenizer.encode(SCRIPT)) + 1  # and end-of-text


def test_completion_accepts_token_ids_and_several_prompts(serve, tokenizer):
    service = serve()
    ids = tokenizer.encode("The keeper")
    result = service.client().completions.create(
        model="tiny-gpt2", prompt=["one prompt", "and another"], max_tokens=3, temperature=0, n=2
    )
    assert [c.index for c in result.choices] == [0, 1, 2, 3]
    assert result.usage.prompt_tokens == len(tokenizer.encode("one prompt")) + len(
        tokenizer.encode("and another")
    )
    assert result.usage.completion_tokens == 12
    by_ids = service.client().completions.create(model="tiny-gpt2", prompt=ids, max_tokens=2)
    assert service.engine.requests[-1].prompt_ids == ids
    assert by_ids.usage.prompt_tokens == len(ids)


def test_chat_uses_the_plain_template_without_a_chat_template(serve, tokenizer):
    service = serve()
    result = service.client().chat.completions.create(
        model="tiny-gpt2",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Who keeps records?"}]},
        ],
        max_tokens=4,
        temperature=0,
    )
    assert result.object == "chat.completion"
    assert result.id.startswith("chatcmpl-")
    message = result.choices[0].message
    assert (message.role, message.content) == ("assistant", script_text(tokenizer, 4))
    expected = tokenizer.encode("System: Be brief.\nUser: Who keeps records?\nAssistant:")
    assert service.engine.requests[0].prompt_ids == expected
    assert result.usage.prompt_tokens == len(expected)


def test_chat_uses_the_tokenizers_chat_template(serve, tokenizer):
    templated = train_tokenizer()
    templated.chat_template = (
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    service = serve(tokenizer_=templated)
    service.client().chat.completions.create(
        model="tiny-gpt2",
        messages=[{"role": "developer", "content": "hi"}, {"role": "user", "content": "yo"}],
        max_completion_tokens=2,
    )
    expected = templated.encode("<system>hi<user>yo<assistant>", add_special_tokens=False)
    assert service.engine.requests[0].prompt_ids == expected
    assert service.engine.requests[0].params.max_tokens == 2


def test_chat_without_max_tokens_may_fill_the_context(serve, tokenizer):
    service = serve()
    service.client().chat.completions.create(
        model="tiny-gpt2", messages=[{"role": "user", "content": "hi"}]
    )
    request = service.engine.requests[0]
    assert request.params.max_tokens == MAX_MODEL_LEN - len(request.prompt_ids)


def test_min_tokens_reaches_the_engine_and_may_not_exceed_max_tokens(serve):
    """vLLM's `min_tokens` extension, as the `openai` client sends it (`extra_body`)."""
    service = serve()
    client = service.client()
    client.completions.create(
        model="tiny-gpt2", prompt="The", max_tokens=4, extra_body={"min_tokens": 3}
    )
    assert service.engine.requests[0].params.min_tokens == 3
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="tiny-gpt2",
            messages=[{"role": "user", "content": "hi"}],
            max_completion_tokens=2,
            extra_body={"min_tokens": 3},
        )
    assert error_of(raised.value)["param"] == "min_tokens"
    assert len(service.engine.requests) == 1


def test_adapter_model_goes_to_the_engine_with_its_adapter(serve):
    service = serve()
    service.client().completions.create(model="adapter-1", prompt="The", max_tokens=2)
    assert service.engine.requests[0].adapter_id == "a1"


# Streaming.


def test_completion_stream_matches_the_whole_answer(serve, tokenizer):
    service = serve()
    chunks = list(
        service.client().completions.create(
            model="tiny-gpt2", prompt="The", max_tokens=60, temperature=0, stream=True
        )
    )
    assert {c.object for c in chunks} == {"text_completion"}
    assert len({c.id for c in chunks}) == 1
    texts = [c.choices[0].text for c in chunks]
    assert "".join(texts) == SCRIPT
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(chunks) > 10  # streamed token by token, not in one piece


def test_stream_never_splits_a_multibyte_character(serve, tokenizer):
    service = serve()
    chunks = service.client().completions.create(
        model="tiny-gpt2", prompt="The", max_tokens=60, temperature=0, stream=True
    )
    texts = [c.choices[0].text for c in chunks]
    assert all("\ufffd" not in t for t in texts)
    assert "😀" in texts or any("😀" in t for t in texts)
    assert "".join(texts) == SCRIPT


def test_chat_stream_sends_role_then_content_then_usage(serve, tokenizer):
    service = serve()
    chunks = list(
        service.client().chat.completions.create(
            model="tiny-gpt2",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    first, *middle, finish, usage = chunks
    assert (first.choices[0].delta.role, first.choices[0].delta.content) == ("assistant", "")
    assert "".join(c.choices[0].delta.content for c in middle) == script_text(tokenizer, 8)
    assert finish.choices[0].finish_reason == "length"
    assert all(c.usage is None for c in chunks[:-1])
    assert usage.choices == []
    assert (usage.usage.completion_tokens, usage.usage.total_tokens) == (
        8,
        8 + len(service.engine.requests[0].prompt_ids),
    )


def test_stream_ends_with_done(serve):
    service = serve()
    body = {"model": "tiny-gpt2", "prompt": "The", "max_tokens": 3, "stream": True}
    response = httpx2.post(service.url + "/v1/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


# n, seeds.


def test_n_choices_use_consecutive_seeds_and_repeat(serve):
    service = serve()
    client = service.client()

    def ask(seed: int) -> list[str]:
        result = client.completions.create(
            model="tiny-gpt2", prompt="The", max_tokens=6, n=2, seed=seed
        )
        assert [c.index for c in result.choices] == [0, 1]
        assert result.usage.completion_tokens == 12
        return [c.text for c in result.choices]

    first = ask(7)
    assert [r.params.seed for r in service.engine.requests] == [7, 8]
    assert len({r.request_id for r in service.engine.requests}) == 2
    assert ask(7) == first
    assert ask(8)[0] == first[1]  # choice 1 of seed 7 is choice 0 of seed 8
    assert first[0] != first[1]


def test_n_choices_stream_interleaved(serve):
    service = serve()
    chunks = list(
        service.client().chat.completions.create(
            model="tiny-gpt2",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=5,
            n=2,
            seed=7,
            stream=True,
        )
    )
    texts = {0: "", 1: ""}
    finishes = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert finishes == {0: "length", 1: "length"}
    assert texts[0] and texts[1] and texts[0] != texts[1]


# Stop strings.


@pytest.mark.parametrize("stream", [False, True])
def test_stop_string_across_tokens_cuts_the_text_and_aborts(serve, stream):
    service = serve()
    stop = "eeper of rec"  # starts inside " keeper", spans " of" and " record"
    kwargs = {"model": "tiny-gpt2", "prompt": "The", "max_tokens": 60, "temperature": 0}
    client = service.client()
    if stream:
        chunks = list(client.completions.create(stop=[stop, "never"], stream=True, **kwargs))
        text = "".join(c.choices[0].text for c in chunks)
        finish = chunks[-1].choices[0].finish_reason
    else:
        result = client.completions.create(stop=stop, **kwargs)
        text, finish = result.choices[0].text, result.choices[0].finish_reason
        assert result.usage.completion_tokens < 20
    assert text == SCRIPT[: SCRIPT.index(stop)]
    assert finish == "stop"
    request_id = service.engine.requests[0].request_id
    wait_for(lambda: request_id in service.engine.closed)
    assert service.engine.aborted == [request_id]


def test_unfinished_stop_prefix_is_released_at_the_end(serve):
    service = serve()
    result = service.client().completions.create(
        model="tiny-gpt2", prompt="The", max_tokens=60, temperature=0, stop=["desk.!"]
    )
    assert result.choices[0].text == SCRIPT
    assert result.choices[0].finish_reason == "stop"  # end of text
    assert service.engine.aborted == []


# Errors.


def error_of(exc: openai.APIStatusError) -> dict:
    return exc.response.json()["error"]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 0}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"logprobs": 2}, "logprobs"),
        ({"echo": True}, "echo"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"n": 17}, "n"),
        ({"prompt": [[1, 99999]]}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 400}, "prompt"),
        ({"max_tokens": MAX_MODEL_LEN}, "max_tokens"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_bad_completion_parameters_are_400_naming_the_param(serve, kwargs, param):
    service = serve()
    request = {"model": "tiny-gpt2", "prompt": "The", **kwargs}
    with pytest.raises(openai.BadRequestError) as raised:
        service.client().completions.create(**request)
    error = error_of(raised.value)
    assert (error["param"], error["type"]) == (param, "invalid_request_error")
    assert error["message"]
    assert service.engine.requests == []


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.[0].role"),
        ({"messages": [{"role": "user"}]}, "messages.[0].content"),
        ({"logprobs": True}, "logprobs"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"messages": [{"role": "user", "content": "word " * 300}]}, "messages"),
    ],
)
def test_bad_chat_parameters_are_400_naming_the_param(serve, kwargs, param):
    service = serve()
    request = {"model": "tiny-gpt2", "messages": [{"role": "user", "content": "hi"}], **kwargs}
    with pytest.raises(openai.BadRequestError) as raised:
        service.client().chat.completions.create(**request)
    assert error_of(raised.value)["param"] == param


def test_malformed_json_is_400(serve):
    service = serve()
    response = httpx2.post(service.url + "/v1/completions", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_model_is_404(serve):
    service = serve()
    with pytest.raises(openai.NotFoundError) as raised:
        service.client().completions.create(model="gpt-5", prompt="hi")
    error = error_of(raised.value)
    assert (error["code"], error["param"]) == ("model_not_found", "model")


def test_unknown_route_and_wrong_method_use_the_error_object(serve):
    service = serve()
    missing = httpx2.post(service.url + "/v1/embeddings", json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Invalid URL (POST /v1/embeddings)"
    wrong = httpx2.get(service.url + "/v1/completions")
    assert wrong.status_code == 405
    assert "error" in wrong.json()


def test_paid_model_needs_a_valid_key_and_a_balance(serve):
    service = serve()
    with pytest.raises(openai.AuthenticationError):
        service.client("stolen").completions.create(model="adapter-1", prompt="hi")
    with pytest.raises(openai.APIStatusError) as raised:
        service.client("poor").completions.create(model="adapter-1", prompt="hi")
    assert raised.value.status_code == 402
    assert error_of(raised.value)["code"] == "payment_required"
    assert service.engine.requests == []
    assert service.cashier.records == []


def test_body_over_the_limit_is_413_before_parsing(serve):
    service = serve(max_body_bytes=1000)
    with pytest.raises(openai.APIStatusError) as raised:
        service.client().completions.create(model="tiny-gpt2", prompt="x" * 2000)
    assert raised.value.status_code == 413
    assert error_of(raised.value)["code"] == "request_too_large"

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while reading
        yield b'{"model": "tiny-gpt2", "prompt": "'
        yield b"x" * 2000
        yield b'"}'

    response = httpx2.post(service.url + "/v1/completions", content=chunked())
    assert response.status_code == 413
    assert service.engine.requests == []


def test_too_many_requests_in_flight_is_429(serve, tokenizer):
    service = serve(ScriptedEngine(tokenizer, delay=0.05), max_in_flight=1)
    client = service.client()
    stream = client.completions.create(model="tiny-gpt2", prompt="The", max_tokens=40, stream=True)
    next(iter(stream))
    with pytest.raises(openai.RateLimitError) as raised:
        client.completions.create(model="tiny-gpt2", prompt="The", max_tokens=1)
    assert error_of(raised.value)["code"] == "rate_limit_exceeded"
    stream.close()

    def admitted() -> bool:
        try:
            client.completions.create(model="tiny-gpt2", prompt="x", max_tokens=1)
        except openai.RateLimitError:
            return False
        return True

    wait_for(admitted)


def test_unexpected_failure_is_a_generic_500_and_is_logged(serve, tokenizer, caplog):
    engine = ScriptedEngine(tokenizer)
    engine.fail_before = RuntimeError("secret engine failure")
    service = serve(engine)
    with (
        caplog.at_level(logging.ERROR, "serving.api"),
        pytest.raises(openai.InternalServerError) as raised,
    ):
        service.client().completions.create(model="tiny-gpt2", prompt="The")
    error = error_of(raised.value)
    assert error["type"] == "server_error"
    assert "secret" not in error["message"]
    assert "secret engine failure" in caplog.text


def test_an_unreachable_chain_node_is_503(serve):
    with pytest.raises(openai.InternalServerError) as raised:
        serve().client("offline").completions.create(model="adapter-1", prompt="The")
    assert raised.value.status_code == 503
    assert error_of(raised.value)["code"] == "chain_unavailable"


def test_unknown_adapter_in_the_engine_is_404(serve, tokenizer):
    engine = ScriptedEngine(tokenizer)
    engine.fail_before = UnknownAdapter("unknown adapters: ['a1']")
    service = serve(engine)
    with pytest.raises(openai.NotFoundError):
        service.client().completions.create(model="adapter-1", prompt="The")
    assert len(service.cashier.cancelled) == 1
    assert service.cashier.records == []


def test_failure_in_the_middle_of_a_stream_is_an_error_event(serve, tokenizer):
    engine = ScriptedEngine(tokenizer)
    engine.fail_after = 3
    service = serve(engine)
    stream = service.client().completions.create(
        model="adapter-1", prompt="The", max_tokens=20, stream=True
    )
    with pytest.raises(openai.APIError, match="The server had an error"):
        list(stream)
    wait_for(lambda: len(service.cashier.cancelled) == 1)
    assert service.cashier.records == []


# Payment.


def test_paid_answer_is_recorded_with_its_hashes(serve, tokenizer):
    service = serve()
    client = service.client()
    raw = client.completions.with_raw_response.create(
        model="adapter-1", prompt="The", max_tokens=4, n=2, seed=1
    )
    result = raw.parse()
    ((charge, card, request_hash, output_hash, choices),) = service.cashier.records
    assert card == PAID and charge.price == PAID.price_per_call
    prompt_ids = tuple(tokenizer("The").input_ids)
    assert choices == [AnsweredChoice(prompt_ids, c.text) for c in result.choices]
    assert result.id == raw.headers["openledger-response-id"] == f"0x{1:064x}"
    texts = json.dumps([c.text for c in result.choices], separators=(",", ":"), ensure_ascii=False)
    assert output_hash == keccak(texts.encode())
    provisional = service.engine.requests[0].request_id.rsplit("-", 1)[0]
    body = {"model": "adapter-1", "prompt": "The", "max_tokens": 4, "n": 2, "seed": 1}
    canonical = json.dumps(
        {"id": provisional, "request": body}, sort_keys=True, separators=(",", ":")
    )
    assert request_hash == keccak(canonical.encode())
    client.completions.create(model="adapter-1", prompt="The", max_tokens=4, n=2, seed=1)
    assert service.cashier.records[1][2] != request_hash  # the same body, another request
    assert service.cashier.records[1][3] == output_hash
    assert service.cashier.cancelled == []


def test_free_answer_has_a_uuid_id_and_no_charge(serve):
    service = serve()
    raw = service.client().chat.completions.with_raw_response.create(
        model="tiny-gpt2", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert raw.parse().id == raw.headers["openledger-response-id"]
    assert raw.parse().id.startswith("chatcmpl-")
    assert service.cashier.records == []


def test_paid_stream_ends_with_the_recorded_id(serve):
    service = serve()
    chunks = list(
        service.client().chat.completions.create(
            model="adapter-1",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=3,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    recorded = f"0x{1:064x}"
    assert chunks[0].id.startswith("chatcmpl-")
    assert [c.id for c in chunks[-2:]] == [recorded, recorded]  # finish chunk, usage chunk
    assert len(service.cashier.records) == 1


def test_client_disconnect_aborts_the_stream_and_cancels_the_charge(serve, tokenizer):
    service = serve(ScriptedEngine(tokenizer, delay=0.05))
    body = {"model": "adapter-1", "prompt": "The", "max_tokens": 100, "stream": True}
    headers = {"authorization": "Bearer good"}
    with httpx2.stream("POST", service.url + "/v1/completions", json=body, headers=headers) as r:
        assert r.status_code == 200
        next(r.iter_lines())
    request_id = service.engine.requests[0].request_id
    wait_for(lambda: request_id in service.engine.closed)
    assert service.engine.aborted == [request_id]
    wait_for(lambda: len(service.cashier.cancelled) == 1)
    assert service.cashier.records == []


def test_client_disconnect_aborts_a_non_streaming_request(serve, tokenizer):
    service = serve(ScriptedEngine(tokenizer, delay=0.05))
    client = OpenAI(base_url=service.url + "/v1", api_key="good", max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.completions.create(model="adapter-1", prompt="The", max_tokens=100, n=2)
    wait_for(lambda: len(service.engine.aborted) == 2)
    wait_for(lambda: len(service.cashier.cancelled) == 1)
    assert service.cashier.records == []


# Health, metrics, logs.


def test_health(serve):
    response = httpx2.get(serve().url + "/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_metrics_count_requests_tokens_and_take_extra_gauges(serve):
    service = serve(fresh=True)
    service.app.state.api.metrics.add_gauge(
        "openlora_adapters", "Adapters by tier.", lambda: {"device": 2, "host": 1}, label="tier"
    )
    service.client().completions.create(model="tiny-gpt2", prompt="The", max_tokens=3)
    httpx2.get(service.url + "/nowhere")
    text = httpx2.get(service.url + "/metrics").text
    lines = text.splitlines()
    assert 'openledger_api_requests_total{route="/v1/completions",status="200"} 1' in lines
    assert 'openledger_api_requests_total{route="other",status="404"} 1' in lines
    assert "openledger_api_completion_tokens_total 3" in lines
    assert "openledger_api_time_to_first_token_seconds_count 1" in lines
    assert 'openledger_api_request_duration_seconds_count{route="/v1/completions"} 1' in lines
    assert "openledger_api_requests_in_flight 0" in lines
    assert 'openlora_adapters{tier="device"} 2' in lines
    assert "# TYPE openledger_api_request_duration_seconds histogram" in lines


def test_one_log_line_per_request(serve, caplog):
    service = serve()
    with caplog.at_level(logging.INFO, "serving.api"):
        service.client().completions.create(model="tiny-gpt2", prompt="The", max_tokens=3)
        wait_for(lambda: "POST /v1/completions" in caplog.text)
    (line,) = [r.getMessage() for r in caplog.records if "/v1/completions" in r.getMessage()]
    assert line.startswith("POST /v1/completions 200 model=tiny-gpt2 tokens=3 ")
    assert line.endswith("ms")
