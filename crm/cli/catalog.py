"""`crm catalog`: load products and store policies, and try the search the agent uses."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from crm.cli.db import run_in_session

app = typer.Typer(help="Products, policies and FAQs the agent answers from.", no_args_is_help=True)
console = Console()


def _fail(exc: Exception) -> None:
    problems = getattr(exc, "problems", [str(exc)])
    console.print(f"[red]nothing imported: {len(problems)} problem(s)[/red]")
    for problem in problems[:50]:
        console.print(f"  - {problem}")
    raise typer.Exit(1)


@app.command("import")
def import_products(path: Path = typer.Argument(..., help="CSV: sku,name,description,price,currency,stock,"
                                                           "category,attributes (attributes as JSON)")) -> None:
    """Insert or update products by sku. A file with any invalid row imports nothing and lists every problem."""
    from serving.services.catalog import CatalogInputError, parse_products_csv, read_text, upsert_products

    try:
        products = parse_products_csv(read_text(path))
    except CatalogInputError as exc:
        _fail(exc)
    counts = run_in_session(lambda session: upsert_products(session, products), commit=True)
    console.print(f"{len(products)} products from {path}: {counts.created} new, {counts.updated} updated")


@app.command("import-policies")
def import_policies(path: Path = typer.Argument(..., help="YAML: currency, coverage, shipping (name, price, "
                                                           "delay), returns, warranty, payment_methods, ...")) -> None:
    """Store (or replace) the store policies the agent quotes: shipping, returns, warranty, payments, hours."""
    from serving.services.catalog import CatalogInputError, parse_policies_yaml, read_text, replace_policies

    try:
        policies = parse_policies_yaml(read_text(path))
    except CatalogInputError as exc:
        _fail(exc)
    keys = run_in_session(lambda session: replace_policies(session, policies), commit=True)
    console.print(f"stored policies: {', '.join(keys)}")


@app.command()
def search(query: str, limit: int = typer.Option(5)) -> None:
    """The products the agent would consider for a question."""
    from serving.services.catalog import search_products

    found = run_in_session(lambda session: search_products(session, query, limit))
    table = Table("sku", "name", "price", "stock", "relevance")
    for product, relevance in found:
        table.add_row(product.sku, product.name, f"{product.price} {product.currency}", str(product.stock),
                      f"{relevance:.3f}")
    console.print(table if found else "no product matches")
