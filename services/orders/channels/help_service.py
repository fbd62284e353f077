"""The help center's rules: search with resolution counts, one article, a ticket resolved by an article."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.types import utcnow
from services.orders import service as orders_service
from services.orders.channels import help, schemas
from services.orders.channels import repository as repo
from services.orders.channels.errors import ArticleNotFound
from services.orders.models import Ticket


async def search_articles(session: AsyncSession, *, query: str, lang: str, limit: int) -> schemas.ArticleList:
    counts = await repo.resolution_counts(session)
    items = [schemas.ArticlePublic(id=h.article_id, lang=h.lang, title=h.title, topic=h.topic, score=h.score,
                                   resolutions=counts.get(h.article_id, 0))
             for h in help.search(query, lang=lang, limit=limit)]
    return schemas.ArticleList(items=items, count=len(items))


async def get_article(session: AsyncSession, *, article_id: str, lang: str) -> schemas.ArticlePublic:
    found = help.article(article_id)
    if found is None:
        raise ArticleNotFound(article_id)
    lang = "zh-CN" if lang == "zh-CN" else "en"
    counts = await repo.resolution_counts(session)
    return schemas.ArticlePublic(id=article_id, lang=lang, title=found[lang]["title"], topic=found["topic"],
                                 body=found[lang]["body"], resolutions=counts.get(article_id, 0))


async def record_resolution(session: AsyncSession, *, article_id: str, ticket: Ticket,
                            author: str) -> schemas.ArticlePublic:
    if help.article(article_id) is None:
        raise ArticleNotFound(article_id)
    if await repo.insert_resolution(session, article_id=article_id, ticket_id=ticket.id, now=utcnow()) and \
            ticket.status in ("open", "waiting_customer"):
        await orders_service.move_ticket(session, ticket=ticket, status="resolved",
                                         note=f"resolved by help article {article_id}", author=author)
    return await get_article(session, article_id=article_id, lang=ticket.lang)
