"""The reports' part of the tenant policy: where the support shifts change (000 §9 C, the hand-over).

Optional with a default, so existing policy files stay valid.
"""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ReportsPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    shifts: tuple[str, ...] = Field(
        default=("07:00", "15:00", "23:00"),
        description="Local HH:MM at which a support shift hands over to the next (000 §9 C).")

    @field_validator("shifts")
    @classmethod
    def _hhmm(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("shifts: at least one hand-over time")
        for item in value:
            try:
                time.fromisoformat(item)
            except ValueError as exc:
                raise ValueError(f"shifts: {item!r} is not HH:MM") from exc
        return tuple(sorted(set(value)))

    def boundaries(self) -> list[time]:
        return [time.fromisoformat(v) for v in self.shifts]
