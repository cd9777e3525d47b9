import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { generateApiKey, hashApiKey, looksLikeApiKey } from "../src/auth/api-key-format.ts";

describe("API key format and hash", () => {
  it("the hash is SHA-256 of the key, the same bytes as a Hash object's (what the database holds)", () => {
    for (const mode of ["live", "test"] as const) {
      const { key, prefix, hash } = generateApiKey(mode);
      assert.ok(looksLikeApiKey(key), key.slice(0, 17));
      assert.equal(prefix, key.slice(0, 17));
      const expected = createHash("sha256").update(key).digest();
      assert.ok(Buffer.isBuffer(hash) && hash.equals(expected));
      assert.ok(hashApiKey(key).equals(expected));
    }
    // Not only keys of the right shape: whatever is presented hashes the same way.
    assert.ok(hashApiKey("é ✓ not a key").equals(createHash("sha256").update("é ✓ not a key").digest()));
  });
});
