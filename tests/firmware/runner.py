# Tiny test runner for the MicroPython side (micropython-lib's unittest exits 0
# on failure). Every test_* function in the caller's globals runs; any failure
# prints its traceback and the process exits 1.
import sys


def run(ns):
    names = sorted([k for k in ns if k.startswith("test_") and callable(ns[k])])
    failed = []
    for name in names:
        try:
            ns[name]()
            print("ok  ", name)
        except Exception as e:  # noqa: BLE001 - report every failure
            failed.append(name)
            print("FAIL", name)
            sys.print_exception(e)
    print("%d passed, %d failed" % (len(names) - len(failed), len(failed)))
    if not names:
        print("no tests found")
        sys.exit(2)
    sys.exit(1 if failed else 0)


def check_eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b))


def raises(exc, f, *args):
    try:
        f(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)
