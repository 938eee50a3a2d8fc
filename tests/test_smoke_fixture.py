from helpdesk.services import cases, customers


def test_customer_and_case_roundtrip(desk):
    c = customers.create(desk, name="Ana Lima", emails=["ana@example.com"])
    assert customers.find(desk, "lima")[0].id == c.id
    k = cases.create(desk, kind="access", customer_id=c.id)
    assert k.case.days_left == 30
