"""The help center's search: BM25 over each article's title, keywords and body, Chinese segmented with jieba."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jieba

from services.orders.channels.articles import ARTICLES

jieba.setLogLevel(logging.WARNING)
# Words customers write that jieba's dictionary would cut apart.
for _word in ("未收到", "没收到", "没到账", "未到账", "已签收", "没拿到", "改地址", "连不上", "交易哈希", "快递柜",
              "收货地址", "手机号", "闪退", "退款", "退货", "付款", "未支付", "硬件钱包"):
    jieba.add_word(_word, freq=200000)

STOPWORDS = {
    "的", "了", "我", "我的", "你", "您", "吗", "呢", "啊", "吧", "是", "在", "和", "还", "都", "也", "就", "到", "哪",
    "想", "要", "怎么", "怎么办", "如何", "为什么", "一直", "但", "但是", "已经", "请问", "这个",
    "what", "how", "my", "i", "the", "a", "an", "is", "to", "it", "do", "does", "did", "of", "and", "or", "but",
    "for", "on", "in", "me", "can", "not", "yet", "why", "has", "have", "still", "was", "with",
}
FIELD_WEIGHTS = {"title": 3, "keywords": 2, "body": 1}
K1, B = 1.2, 0.75


def tokens(text: str) -> list[str]:
    """Words of a zh or en text: jieba for Chinese runs (with its search-mode sub-words), lower-case for Latin."""
    out: list[str] = []
    for word in jieba.lcut_for_search(text.lower()):
        word = word.strip()
        if not word or word in STOPWORDS or re.fullmatch(r"[\W_]+", word):
            continue
        out.append(word)
    return out


@dataclass(frozen=True)
class Hit:
    article_id: str
    lang: str
    title: str
    topic: str
    score: float


@lru_cache(maxsize=2)
def _index(lang: str) -> tuple[list[tuple[dict[str, Any], Counter[str]]], dict[str, int], float]:
    docs: list[tuple[dict[str, Any], Counter[str]]] = []
    for article in ARTICLES:
        text = article[lang]
        counts: Counter[str] = Counter()
        for name, weight in FIELD_WEIGHTS.items():
            for token in tokens(text[name]):
                counts[token] += weight
        docs.append((article, counts))
    df: Counter[str] = Counter()
    for _, counts in docs:
        df.update(counts.keys())
    average = sum(sum(c.values()) for _, c in docs) / max(len(docs), 1)
    return docs, dict(df), average


def search(query: str, *, lang: str, limit: int = 10) -> list[Hit]:
    """Articles best first; an empty query lists them all."""
    lang = "zh-CN" if lang == "zh-CN" else "en"
    docs, df, average = _index(lang)
    terms = tokens(query)
    n = len(docs)
    hits: list[Hit] = []
    for article, counts in docs:
        length = sum(counts.values())
        score = 0.0
        for term in terms:
            tf = counts.get(term, 0)
            if not tf:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        if score > 0 or not terms:
            hits.append(Hit(article["id"], lang, article[lang]["title"], article["topic"], round(score, 4)))
    hits.sort(key=lambda h: -h.score)
    return hits[:limit]


def article(article_id: str) -> dict[str, Any] | None:
    return next((a for a in ARTICLES if a["id"] == article_id), None)


def suggestions(text: str, *, lang: str) -> list[dict[str, Any]]:
    """The top three articles for a new ticket's words."""
    return [{"id": h.article_id, "title": h.title, "topic": h.topic, "score": h.score}
            for h in search(text, lang=lang, limit=3)]
