"""HM Treasury WELLBY values and the GDP deflator that uprates them (``wellby.yaml``)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, model_validator

from evalkit.definitions.base import DEFINITIONS_DIR, StrictModel, load_model


class WellbyRange(StrictModel):
    """Value of one WELLBY: central, low and high (GBP, at the file's price year)."""

    central: float = Field(gt=0)
    low: float = Field(gt=0)
    high: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> WellbyRange:
        if not self.low <= self.central <= self.high:
            raise ValueError("values must satisfy low <= central <= high")
        return self


class Deflator(StrictModel):
    """A calendar-year price index (e.g. HM Treasury's GDP deflator) with its source."""

    name: str
    source: str
    check: str
    base: str
    index: dict[int, float]
    financial_year_rule: str
    real_growth_note: str = ""

    def level(self, price_year: str) -> tuple[float | None, str]:
        """Index level of a calendar year (``"2023"``) or financial year (``"2023/24"``).

        A financial year is approximated as 0.75 x its first calendar year + 0.25 x the next
        (the file's ``financial_year_rule``). Returns ``(None, reason)`` when a year is missing.
        """
        m = re.fullmatch(r"\s*(\d{4})(?:\s*[/-]\s*(\d{2}|\d{4}))?\s*", str(price_year))
        if not m:
            return None, f"price year '{price_year}' is neither YYYY nor YYYY/YY"
        first = int(m.group(1))
        if m.group(2) is None:
            if first not in self.index:
                return None, f"no {self.name} value for {first}"
            return self.index[first], f"calendar year {first}"
        if first not in self.index or first + 1 not in self.index:
            return None, f"no {self.name} value for {first} and {first + 1}"
        lvl = 0.75 * self.index[first] + 0.25 * self.index[first + 1]
        return lvl, (
            f"financial year {price_year} approximated as 0.75 x {first} + 0.25 x {first + 1}"
        )


class WellbyValues(StrictModel):
    """HM Treasury WELLBY values, their price year, source and check status, as data."""

    name: str
    title: str
    publisher: str
    published: str
    url: str
    definition: str
    measure: str
    price_year: str
    values: WellbyRange
    check: str
    duration_years_default: float = Field(gt=0)
    discount_rate: float = Field(ge=0, lt=1)
    discount_rate_source: str
    deflator: Deflator

    @property
    def source(self) -> str:
        """Title, publisher, date and URL in one line."""
        return f"{self.publisher}, {self.title} ({self.published}), {self.url}"

    def at_price_year(self, price_year: str | None) -> tuple[WellbyRange, str, float, str]:
        """The values uprated for prices to ``price_year`` with the GDP deflator.

        Parameters
        ----------
        price_year : str or None
            Target price year (``"2023/24"`` or ``"2023"``); None keeps the file's price year.

        Returns
        -------
        values : WellbyRange
            Uprated values (unchanged when the index lacks a year).
        price_year : str
            The price year the values are actually in.
        inflator : float
            Factor applied (1 when not uprated).
        note : str
            How the values were uprated, or why they were not (a flag for the report).
        """
        if price_year is None or str(price_year) == self.price_year:
            return self.values, self.price_year, 1.0, f"WELLBY values in {self.price_year} prices."
        to_lvl, to_how = self.deflator.level(price_year)
        from_lvl, from_how = self.deflator.level(self.price_year)
        if to_lvl is None or from_lvl is None:
            why = to_how if to_lvl is None else from_how
            return (
                self.values,
                self.price_year,
                1.0,
                f"FLAG: WELLBY values left in {self.price_year} prices, not {price_year}: {why}. "
                "They are therefore understated against costs at a later price year.",
            )
        k = to_lvl / from_lvl
        v = WellbyRange(
            central=self.values.central * k, low=self.values.low * k, high=self.values.high * k
        )
        note = (
            f"FLAG: WELLBY values uprated from {self.price_year} to {price_year} prices with the "
            f"{self.deflator.name} (x{k:.4f}; {to_how}; index {self.deflator.check}). "
            f"{self.deflator.financial_year_rule if '/' in str(price_year) else ''} "
            f"{self.deflator.real_growth_note}"
        )
        return v, str(price_year), k, " ".join(note.split())


def load_wellby(path: str | Path | None = None) -> WellbyValues:
    """Load the WELLBY values (default: ``evalkit/definitions/wellby.yaml``).

    Parameters
    ----------
    path : str or Path, optional
        Another file with the same fields.

    Returns
    -------
    WellbyValues
        Validated values; a bad file raises :class:`~evalkit.definitions.ConfigError`.

    Examples
    --------
    >>> w = load_wellby()
    >>> w.values.central, w.price_year
    (13000.0, '2019')
    """
    path = Path(path) if path is not None else DEFINITIONS_DIR / "wellby.yaml"
    return load_model(WellbyValues, path)
