// The JSON shapes the UI reads, defined once beside the server's handlers.
export type * from '../api/ui/shapes.js';
