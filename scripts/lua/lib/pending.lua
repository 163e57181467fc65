-- An entry of a coupon's `pending` stream, as issueCoupon-5.lua writes it ({u = userId,
-- t = issuedAt ms}): its user and time as strings, nil for a field it lacks.
local function pending_entry(fields)
  local user, at
  for j = 1, #fields - 1, 2 do
    if fields[j] == 'u' then
      user = fields[j + 1]
    elseif fields[j] == 't' then
      at = fields[j + 1]
    end
  end
  return user, at
end
