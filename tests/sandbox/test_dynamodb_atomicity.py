"""DynamoDB conditional writes in the sandbox are atomic, as DynamoDB's are: of many clients
racing to write one item under the same condition, exactly one succeeds. moto reads the item,
checks the condition and writes in separate steps, so without the sandbox serializing DynamoDB
calls two racers can both win, and the writer lease (``adapters.locking``) would have two
holders. The test widens moto's window between reading and writing, so a race that a busy
machine hits now and then is hit every time."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.dynamodb.models.table import Table

from reconciler.sandbox import Sandbox

# moto's CreateTable answer has NumberOfDecreasesToday 0, below the model's minimum of 1.
pytestmark = pytest.mark.parametrize("sandbox_shape_check", [False])

RACERS = 8
ROUNDS = 3


def _client(sandbox: Sandbox, **config: Any) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.settings.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


@pytest.fixture
def table(sandbox: Sandbox) -> str:
    _client(sandbox).create_table(
        TableName="race",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "race"


@pytest.fixture
def slow_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's item read takes 20 ms: every racer reads before any writes."""
    read = Table.get_item

    def slow(self: Table, *args: Any, **kwargs: Any) -> Any:
        found = read(self, *args, **kwargs)
        time.sleep(0.02)
        return found

    monkeypatch.setattr(Table, "get_item", slow)


@pytest.mark.usefixtures("slow_reads")
def test_of_racing_conditional_writes_exactly_one_succeeds(
    sandbox: Sandbox, table: str, sandbox_shape_check: bool
) -> None:
    clients = [_client(sandbox, max_pool_connections=1) for _ in range(RACERS)]
    winners_per_round: list[int] = []
    for round_number in range(ROUNDS):
        start = threading.Barrier(RACERS)
        wins: list[int] = []
        threads = [
            threading.Thread(
                target=_race,
                args=(client, table, f"round-{round_number}", racer),
                kwargs={"start": start, "wins": wins},
            )
            for racer, client in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        winners_per_round.append(len(wins))

    assert winners_per_round == [1] * ROUNDS


def _race(
    client: Any, table: str, key: str, racer: int, *, start: threading.Barrier, wins: list[int]
) -> None:
    """Write ``key`` only if no holder is set; append ``racer`` to ``wins`` when it did."""
    start.wait()
    try:
        client.update_item(
            TableName=table,
            Key={"key": {"S": key}},
            UpdateExpression="SET holder = :me",
            ConditionExpression="attribute_not_exists(holder)",
            ExpressionAttributeValues={":me": {"S": str(racer)}},
        )
    except client.exceptions.ConditionalCheckFailedException:
        return
    wins.append(racer)  # list.append is atomic
