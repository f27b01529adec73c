"""The settings no engine crate reads yet, and the README list of them.

`python scripts/unread_settings.py` rewrites the list in README.md (run it
after wiring up a setting); tests/test_settings.py checks that the list is
true. A setting counts as read when its key constant (`keys::NAME`) or its
quoted name appears in a crate's sources outside `crates/settings` and the
tests."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARK = "are not yet read by the engine"


def unread(names):
    """The names in `names` that no engine source mentions, sorted."""
    crates = ROOT / "crates"
    src = "\n".join(p.read_text() for p in crates.rglob("*.rs")
                    if p.relative_to(crates).parts[0] != "settings"
                    and "tests" not in p.relative_to(crates).parts)
    return sorted(n for n in names
                  if not re.search(r"\b%s\b" % n.upper(), src) and '"%s"' % n not in src)


def listed(readme):
    """The settings the README names as not read, and the count it states."""
    head, rest = readme.split(MARK, 1)
    count = re.search(r"but (\d+) of the \d+ $", head)
    return re.findall(r"`([a-z0-9_]+)`", rest.split("\n\n", 1)[0]), int(count.group(1))


def main():
    import libtorrent as lt
    names = list(lt._native._settings_after_apply({}))
    missing = unread(names)
    path = ROOT / "README.md"
    head, rest = path.read_text().split(MARK, 1)
    section, tail = rest.split("\n\n", 1)
    intro = section.split("open work:\n", 1)[0] + "open work:\n"
    lines, cur = [], "  "
    for n in missing:
        word = "`%s`," % n
        if len(cur) + len(word) + 1 > 78:
            lines.append(cur.rstrip())
            cur = "  "
        cur += word + " "
    lines.append(cur.rstrip().rstrip(",") + ".")
    head = re.sub(r"but \d+ of the \d+ $", "but %d of the %d " % (len(missing), len(names)), head)
    path.write_text(head + MARK + intro + "\n".join(lines) + "\n\n" + tail)
    print("%d of %d settings not read" % (len(missing), len(names)))


if __name__ == "__main__":
    main()
