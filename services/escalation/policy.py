"""escalation's part of the tenant policy: the 001 §3.5 matrix, roles, the committee rule."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.schemas import Category, TicketType


class CommitteePolicy(BaseModel):
    """001 §3.7 Fase 2: every `every` tickets of these categories and/or types convene the committee."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: int = Field(default=5, ge=1)
    categories: tuple[Category, ...] = (Category.oportunidad_de_mejora,)
    types: tuple[TicketType, ...] = (TicketType.usabilidad,)
    convener_role: str = "lider_de_proyectos"


class EscalationPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    matrix: dict[TicketType, tuple[str, ...]] = Field(
        description="Per type, the first line then each escalation step (001 §3.5)."
    )
    roles: dict[str, str] = Field(description="Level or area id -> the people or team it means.")
    urgent_level: str | None = Field(
        default=None, description="Where urgent tickets are assigned at once (default: the matrix's first)."
    )
    committee: CommitteePolicy = CommitteePolicy()

    @model_validator(mode="after")
    def _levels_have_roles(self) -> EscalationPolicy:
        for ticket_type, levels in self.matrix.items():
            if not levels:
                raise ValueError(f"matrix.{ticket_type.value}: needs at least the first line")
            for level in levels:
                if level not in self.roles and level != "area_correspondiente":
                    raise ValueError(f"matrix.{ticket_type.value}: level {level!r} has no entry in roles")
        return self
