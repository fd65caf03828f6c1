"""`/metrics` in Prometheus' text format, with no dependency beyond the standard library.

The HTTP layer counts requests (by route and status), completion tokens, and times requests
and the first token. Other parts of the service (the engine's queue and batch, the adapter
manager's tiers) add their own gauges with `add_gauge`, read at each scrape.
"""

import bisect
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

GaugeReading = float | Mapping[str, float]


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    escaped = (v.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n") for v in values)
    return "{" + ",".join(f'{n}="{v}"' for n, v in zip(names, escaped, strict=True)) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help, labels
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1, *labels: str) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            for labels, value in sorted(self._values.items()):
                lines.append(f"{self.name}{_labels(self.label_names, labels)} {_number(value)}")
        return lines


class Histogram:
    def __init__(
        self,
        name: str,
        help: str,
        labels: tuple[str, ...] = (),
        buckets: tuple[float, ...] = LATENCY_BUCKETS,
    ) -> None:
        self.name, self.help, self.label_names = name, help, labels
        self.buckets = (*buckets, math.inf)
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts, total = self._series.setdefault(labels, ([0] * len(self.buckets), [0.0]))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            total[0] += value

    def count(self, *labels: str) -> int:
        return sum(self._series.get(labels, ([], []))[0])

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        names = (*self.label_names, "le")
        with self._lock:
            for labels, (counts, total) in sorted(self._series.items()):
                cumulative = 0
                for bound, count in zip(self.buckets, counts, strict=True):
                    cumulative += count
                    tags = _labels(names, (*labels, _number(bound)))
                    lines.append(f"{self.name}_bucket{tags} {cumulative}")
                tags = _labels(self.label_names, labels)
                lines.append(f"{self.name}_sum{tags} {_number(total[0])}")
                lines.append(f"{self.name}_count{tags} {cumulative}")
        return lines


@dataclass(frozen=True)
class Gauge:
    """A value read at scrape time; with `label`, `read` returns {label value: value}."""

    name: str
    help: str
    read: Callable[[], GaugeReading]
    label: str | None = None

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        reading = self.read()
        if self.label is None:
            assert not isinstance(reading, Mapping), f"{self.name} has no label"
            lines.append(f"{self.name} {_number(reading)}")
        else:
            assert isinstance(reading, Mapping), f"{self.name} needs {{{self.label}: value}}"
            for key, value in sorted(reading.items()):
                lines.append(f"{self.name}{_labels((self.label,), (key,))} {_number(value)}")
        return lines


class ApiMetrics:
    """The service's metrics registry; `app.state.api.metrics` of the app."""

    def __init__(self) -> None:
        self.requests = Counter(
            "openledger_api_requests_total",
            "HTTP requests by route and status.",
            ("route", "status"),
        )
        self.request_duration = Histogram(
            "openledger_api_request_duration_seconds",
            "Time from request to the end of the response, by route.",
            ("route",),
        )
        self.time_to_first_token = Histogram(
            "openledger_api_time_to_first_token_seconds",
            "Time from request to the first generated token of any choice.",
        )
        self.completion_tokens = Counter(
            "openledger_api_completion_tokens_total", "Tokens generated for clients."
        )
        self._gauges: dict[str, Gauge] = {}

    def add_gauge(
        self,
        name: str,
        help: str,
        read: Callable[[], GaugeReading],
        label: str | None = None,
    ) -> None:
        """Expose `read()` as gauge `name` at every scrape (e.g. engine queue depth, adapters
        per tier with `label="tier"`). `read` runs on the event loop: keep it cheap."""
        if name in self._gauges:
            raise ValueError(f"gauge {name} is already registered")
        self._gauges[name] = Gauge(name, help, read, label)

    def render(self) -> str:
        families = [self.requests, self.request_duration, self.time_to_first_token]
        families += [self.completion_tokens, *self._gauges.values()]
        return "\n".join(line for family in families for line in family.render()) + "\n"
