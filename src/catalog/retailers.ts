/**
 * The retailers an end customer can link (SPEC §4). Committed data: the ids
 * are 26-character ULIDs fixed once and never changed, because entities store
 * them. Walmart's id is the seed's example retailer_id (seed 003). `slug`
 * names the retailer in URLs and in PATCHBAY_PROVIDER_URL_RETAILER_<SLUG>.
 */
export interface Retailer {
  id: string;
  slug: string;
  name: string;
}

export const RETAILERS: readonly Retailer[] = [
  { id: "01J7SC0NN73R6F5VVSP3ZKPDA3", slug: "walmart", name: "Walmart" },
  { id: "01J7SC0PMFZ76RF2QPTKT0PV4E", slug: "target", name: "Target" },
  { id: "01J7SC0QKQGWGF9JQ2DW8G3T13", slug: "amazon", name: "Amazon" },
  { id: "01J7SC0RJZJ40MAKHN2BBK0W47", slug: "costco", name: "Costco" },
  { id: "01J7SC0SJ7T3EEWZCM4W4WPWMF", slug: "kroger", name: "Kroger" },
  { id: "01J7SC0THF4TR4S2XMVJ1XCNY7", slug: "instacart", name: "Instacart" },
  { id: "01J7SC0VGQJFD63V33EX24FKYG", slug: "bestbuy", name: "Best Buy" },
  { id: "01J7SC0WFZ59CRYNJYKBV3CH93", slug: "homedepot", name: "The Home Depot" },
];

const byId = new Map(RETAILERS.map((r) => [r.id, r]));
const bySlug = new Map(RETAILERS.map((r) => [r.slug, r]));

/** By its ULID, or by its slug (`walmart`), as the create-connection reference's examples name retailers. */
export function findRetailer(idOrSlug: string): Retailer | undefined {
  return byId.get(idOrSlug) ?? bySlug.get(idOrSlug.toLowerCase());
}
