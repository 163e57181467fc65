/** Discount rules from the contract; pure so they are tested on their own. */
export type Discount = { type: 'FIXED' | 'PERCENT'; value: number };

export type Priced = { totalAmount: number; discountAmount: number; payAmount: number };

export function priceOrder(lines: { quantity: number; unitPrice: number }[], discount?: Discount): Priced {
  const totalAmount = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
  let discountAmount = 0;
  if (discount?.type === 'FIXED') discountAmount = Math.min(discount.value, totalAmount);
  // Integer KRW: the customer never pays a fraction, the discount rounds down.
  if (discount?.type === 'PERCENT') discountAmount = Math.floor((totalAmount * discount.value) / 100);
  return { totalAmount, discountAmount, payAmount: totalAmount - discountAmount };
}
