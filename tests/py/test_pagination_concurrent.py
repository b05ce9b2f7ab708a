"""ListProjects pages stay correct while other clients create and delete projects."""
import threading

import pytest

from conftest import create, delete_and_wait, make_client, wait_status


@pytest.mark.parametrize("sort_by,order", [("Name", "Ascending"), ("Name", "Descending"),
                                           ("CreationTime", "Ascending"), ("CreationTime", "Descending")])
def test_pages_under_concurrent_churn(server, sort_by, order):
    sm = make_client(server.url)
    stable = [f"stable-{i:03d}" for i in range(60)]
    for n in stable:
        create(sm, n)
    stop = threading.Event()
    errors = []

    def churn(worker):
        c = make_client(server.url)
        i = 0
        try:
            while not stop.is_set():
                name = f"churn-{worker}-{i:04d}"
                create(c, name)
                if i % 2:
                    # An operation in progress refuses DeleteProject (ConflictException).
                    wait_status(c, name, "CreateFailed")
                    delete_and_wait(c, name)
                i += 1
        except Exception as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=churn, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    try:
        seen, token, pages = [], None, 0
        while True:
            kw = {"MaxResults": 7, "SortBy": sort_by, "SortOrder": order}
            if token:
                kw["NextToken"] = token
            out = sm.list_projects(**kw)
            pages += 1
            seen += [p for p in out["ProjectSummaryList"]]
            token = out.get("NextToken")
            if not token:
                break
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    names = [p["ProjectName"] for p in seen]
    assert len(names) == len(set(names)), "a project was returned twice"
    assert [n for n in names if n.startswith("stable-")] == (stable if (sort_by, order) != ("Name", "Descending")
                                                               and (sort_by, order) != ("CreationTime", "Descending")
                                                               else stable[::-1])
    keys = [p["ProjectName"] if sort_by == "Name" else (p["CreationTime"], p["ProjectName"]) for p in seen]
    assert keys == sorted(keys, reverse=(order == "Descending")), "pages are out of order"
    assert pages >= 9
