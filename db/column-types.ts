/* The shapes of JSON columns that both database schemas share. */

/** One input of an item's form (the catalog files' FormField; see service-catalog/schemas.ts). */
export interface FormField {
  name: string;
  label: string;
  type: 'text' | 'textarea' | 'device' | 'select' | 'date';
  required: boolean;
  options?: string[];
  maxLength?: number;
  pattern?: string;
  help?: string;
}

export interface BundlePart {
  catalogItemId: string;
  /** Form fields for the child request (e.g. a question, a justification). */
  fields?: Record<string, string>;
}
