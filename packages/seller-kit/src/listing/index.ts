export type { ListingMatcher, ListingOptions } from "./listing.js";
export { createListingMatcher, wrongListing } from "./listing.js";
