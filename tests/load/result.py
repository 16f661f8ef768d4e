"""What a load run measured and found: the summary line, and the problems that fail it."""

from __future__ import annotations

from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


class Stalled(AssertionError):
    """Nothing was answered for a while although people were waiting: the bot is stuck."""


@dataclass
class LoadResult:
    backend: str
    people: int
    seconds: float = 0.0  # from the first update posted to the last answer
    posted: int = 0
    answered: int = 0
    latencies: list[float] = field(default_factory=list)  # POST → the answer's last message at the fake
    acks: list[float] = field(default_factory=list)  # POST → the webhook's 200 (the update is committed)
    errors: list[str] = field(default_factory=list)
    stalled: int = 0  # people waiting when the run was given up as stuck
    lost_steps: int = 0  # confirmed to the person, missing from the database
    extra_steps: int = 0  # in the database, never confirmed (a step applied twice)
    duplicated: int = 0  # messages beyond their answer (after it was complete, or more than it has)
    steps: int = 0  # lesson steps confirmed
    quizzes: int = 0  # quiz attempts confirmed

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        def ms(values: list[float], q: float) -> str:
            return f"{percentile(values, q) * 1000:.0f} ms"

        stalled = f", STALLED with {self.stalled} people waiting" if self.stalled else ""
        return (f"load test ({self.backend}): {self.people} people, {self.seconds:.1f} s, {self.answered} updates "
                f"answered of {self.posted} posted ({self.steps} lesson steps, {self.quizzes} quizzes), "
                f"{self.per_second:.1f} updates/s, p50 {ms(self.latencies, 50)}, p99 {ms(self.latencies, 99)} "
                f"(POST → last reply at the fake; webhook 200: p50 {ms(self.acks, 50)}, p99 {ms(self.acks, 99)}), "
                f"errors {len(self.errors)}, lost steps {self.lost_steps}, doubled steps {self.extra_steps}, "
                f"duplicated replies {self.duplicated}{stalled}")

    def problems(self) -> list[str]:
        found = list(self.errors)
        if self.lost_steps or self.extra_steps:
            found.append(f"{self.lost_steps} steps lost, {self.extra_steps} steps doubled")
        if self.duplicated:
            found.append(f"{self.duplicated} replies more than the answers have (duplicates)")
        if self.answered != self.posted:
            found.append(f"{self.posted - self.answered} updates posted but not answered")
        return found

    def check(self) -> None:
        """Raise (Stalled when the bot got stuck) if anything went wrong."""
        problems = self.problems()
        if not problems:
            return
        message = f"{len(problems)} problems; the first:\n" + "\n".join(problems[:10])
        if self.stalled:
            raise Stalled(message)
        raise AssertionError(message)
