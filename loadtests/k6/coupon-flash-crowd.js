// Scenario 1: tens of thousands of users race for 1,000 coupons.
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... loadtests/k6/coupon-flash-crowd.js
// Variables: COUPON_QUANTITY (1000), USERS (20000), VUS (100), DURATION (15s).
// Closing check (teardown, through the API): every user's coupon.mine; exactly COUPON_QUANTITY
// users hold the coupon, nobody twice, and a newcomer is told COUPON_SOLD_OUT.
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import {
  appCode,
  assertInvariants,
  DURATION,
  data,
  mintToken,
  mutate,
  queryAll,
  tokenFor,
  VUS,
} from './lib.js';

const QUANTITY = Number(__ENV.COUPON_QUANTITY || 1000);
const USERS = Number(__ENV.USERS || 20000);
const FIRST_USER = Number(__ENV.FIRST_USER || 1000000);

const unexpected = new Rate('unexpected_answers');
const issued = new Counter('coupons_issued');

export const options = {
  scenarios: { crowd: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  thresholds: {
    'http_req_duration{name:coupon.issue}': ['p(95)<50', 'p(99)<100'],
    unexpected_answers: ['rate<0.001'],
    checks: ['rate>0.999'],
  },
  teardownTimeout: '10m',
};

export function setup() {
  const admin = mintToken(1, true);
  const { couponId } = data(
    mutate(
      'admin.coupon.create',
      { name: 'k6 flash crowd', discount: { type: 'FIXED', value: 1000 }, totalQuantity: QUANTITY },
      admin,
    ),
  );
  return { couponId };
}

export default function (setupData) {
  const user = FIRST_USER + Math.floor(Math.random() * USERS);
  const res = mutate('coupon.issue', { couponId: setupData.couponId }, tokenFor(user));
  const code = appCode(res);
  const expected =
    res.status === 200 ||
    (res.status === 409 && (code === 'COUPON_SOLD_OUT' || code === 'COUPON_ALREADY_ISSUED'));
  unexpected.add(!expected);
  check(res, { 'issued or refused as the contract says': () => expected });
  if (res.status === 200) issued.add(1);
}

export function teardown(setupData) {
  const { couponId } = setupData;
  const violations = [];
  const requests = [];
  for (let u = FIRST_USER; u < FIRST_USER + USERS; u++)
    requests.push(['coupon.mine', undefined, mintToken(u)]);
  let holders = 0;
  queryAll(requests).forEach((res, i) => {
    if (res.status !== 200) {
      violations.push(`coupon.mine for user ${FIRST_USER + i}: HTTP ${res.status}`);
      return;
    }
    const held = res.json().result.data.items.filter((item) => item.couponId === couponId).length;
    if (held > 1) violations.push(`user ${FIRST_USER + i} holds coupon ${couponId} ${held} times`);
    if (held === 1) holders++;
  });
  if (holders !== QUANTITY) violations.push(`${holders} users hold the coupon, quantity is ${QUANTITY}`);
  const late = mutate('coupon.issue', { couponId }, mintToken(FIRST_USER + USERS));
  if (appCode(late) !== 'COUPON_SOLD_OUT') violations.push(`a newcomer got HTTP ${late.status} ${late.body}`);
  assertInvariants(violations);
}
