// The per-recipient screening seam of batches: one call over every recipient that passed the
// batch's own checks (number, template, length, destination), before anything is charged.
// Opt-outs and sender rules (src/compliance) plug in here; a refused recipient is listed in the
// batch's `rejected` with the refusal's code and message, and is neither charged nor sent.

/** Why a recipient was refused (an ApiError fits: its code and message are what is listed). */
export interface RecipientRefusal {
  code: string
  message: string
}

/** A recipient that passed the batch's own checks. */
export interface ScreenedRecipient {
  /** E.164. */
  to: string
  /** ISO 3166 alpha-2 of `to`. */
  country: string
}

/**
 * Screens the recipients of one batch: the result maps a position in `recipients` to its refusal,
 * and leaves out every recipient that may be sent to. A refusal of the batch as a whole (a sender
 * the customer may not use) is thrown as an ApiError.
 */
export type ScreenRecipients = (
  customerId: string,
  from: string,
  recipients: readonly ScreenedRecipient[],
) => Promise<Map<number, RecipientRefusal>>

/** The default: refuses nobody. */
export const screenNone: ScreenRecipients = async () => new Map()
