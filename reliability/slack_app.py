"""The Slack app (being built: see issue 7)."""

from fastapi import APIRouter

router = APIRouter()
