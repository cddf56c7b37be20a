from __future__ import annotations

from fastapi import APIRouter, Depends

from control_plane.auth.dependencies import CallerSession, agent_caller
from control_plane.signing.service import JobSigningKeys, job_signing_keys
from shared.wire.jobs import SigningKeySet

router = APIRouter(prefix="/agent", tags=["agent"])


@router.get("/signing-keys", response_model=SigningKeySet)
async def signing_keys(
    caller: CallerSession = Depends(agent_caller, scope="function"),
    keys: JobSigningKeys = Depends(job_signing_keys),
) -> SigningKeySet:
    """The public keys that sign jobs, signed by the active one: pin it, then follow the set."""
    return await keys.key_set(caller.session)
