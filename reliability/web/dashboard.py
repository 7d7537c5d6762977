"""Dashboard pages and the JSON API (being built: see issue 8)."""

from fastapi import APIRouter

router = APIRouter()
