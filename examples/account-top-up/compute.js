let amount = 0;
if (reservation.price_int === 5000) amount = 6000;
if (reservation.price_int === 10000) amount = 15000;
return { amount_cents: amount, vars: { DOLLARS: '$' + Math.trunc(amount / 100) } };
