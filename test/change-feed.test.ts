import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tablesWritten } from "../src/db/change-feed.ts";

describe("the change feed: which statements make processes forget what they hold", () => {
  it("a write to a watched table is announced; a read is not", () => {
    assert.deepEqual(tablesWritten(`update "api_keys" set "revoked_at" = $1 where "id" = $2`), ["api_keys"]);
    assert.deepEqual(tablesWritten(`insert into vault_secrets (owner_id) values ($1)`), ["vault_secrets"]);
    assert.deepEqual(tablesWritten(`select * from connectors where id = $1`), []);
  });

  it("the request log's last_used_at update is not (it changes nothing a cache holds), beside a real write it still is", () => {
    const lastUsed = `update api_keys as k set last_used_at = v.at from unnest($1::uuid[], $2::timestamptz[]) as v (id, at)
                 where k.id = v.id and (k.last_used_at is null or k.last_used_at < v.at)`;
    assert.deepEqual(tablesWritten(lastUsed), []);
    assert.deepEqual(tablesWritten(`${lastUsed}\n;\nupdate connectors set is_active = false where id = $3`), ["connectors"]);
  });
});
