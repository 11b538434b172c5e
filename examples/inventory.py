"""A small inventory module: the file `make demo` completes code in."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Item:
    """One stock keeping unit."""

    sku: str
    name: str
    price_cents: int
    quantity: int = 0
    tags: list[str] = field(default_factory=list)

    def total_value_cents(self) -> int:
        """Value of the items in stock, in cents."""
        return self.price_cents * self.quantity


class Inventory:
    """Items by SKU, loaded from and saved to CSV."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    def add(self, item: Item) -> None:
        """Add an item, or add its quantity to the item with the same SKU."""
        if item.sku in self.items:
            self.items[item.sku].quantity += item.quantity
        else:
            self.items[item.sku] = item

    def remove(self, sku: str, quantity: int) -> None:
        """Take ``quantity`` units of ``sku`` out of stock; raise if there are not enough."""
        item = self.items[sku]
        if item.quantity < quantity:
            raise ValueError(f"only {item.quantity} of {sku} in stock")
        item.quantity -= quantity

    def total_value_cents(self) -> int:
        """Value of everything in stock, in cents."""
        return sum(item.total_value_cents() for item in self.items.values())

    def low_stock(self, threshold: int = 5) -> list[Item]:
        """Items with fewer than ``threshold`` units, fewest first."""
        low = [item for item in self.items.values() if item.quantity < threshold]
        

    def with_tag(self, tag: str) -> list[Item]:
        """Items that carry ``tag``."""
        return [item for item in self.items.values() if tag in item.tags]

    @classmethod
    def from_csv(cls, path: Path) -> "Inventory":
        """Load an inventory from a CSV file with a header row."""
        inventory = cls()
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                inventory.add(
                    Item(
                        sku=row["sku"],
                        name=row["name"],
                        price_cents=int(row["price_cents"]),
                        quantity=int(row["quantity"]),
                        tags=[t for t in row.get("tags", "").split(";") if t],
                    )
                )
        return inventory

    def to_json(self) -> str:
        """The inventory as a JSON array, sorted by SKU."""
        rows = [
            {"sku": i.sku, "name": i.name, "price_cents": i.price_cents, "quantity": i.quantity, "tags": i.tags}
            for i in sorted(self.items.values(), key=lambda i: i.sku)
        ]
        return json.dumps(rows, indent=2)
