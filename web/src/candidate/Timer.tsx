/** The countdown to the server's deadline (by the server's clock, not the device's). */
import { useEffect, useRef, useState } from 'react';
import type { ServerClock } from '../lib/clock.ts';
import { formatClock } from '../lib/format.ts';
import { t } from '../strings.ts';

export function Timer({
  deadline,
  clock,
  onTimeUp,
  announce,
}: {
  deadline: string;
  clock: ServerClock;
  onTimeUp: () => void;
  announce: (msg: string) => void;
}) {
  const end = Date.parse(deadline);
  const [left, setLeft] = useState(() => Math.ceil((end - clock.now()) / 1000));
  const fired = useRef<Set<string>>(new Set());

  useEffect(() => {
    const step = (): void => {
      const s = Math.ceil((end - clock.now()) / 1000);
      setLeft(s);
      const once = (key: string, fn: () => void): void => {
        if (!fired.current.has(key)) {
          fired.current.add(key);
          fn();
        }
      };
      if (s <= 300 && s > 290) once('5', () => announce(t.exam.fiveMinutes));
      if (s <= 60 && s > 50) once('1', () => announce(t.exam.oneMinute));
      if (s <= 0) once('0', onTimeUp);
    };
    step();
    const id = window.setInterval(step, 1000);
    return () => window.clearInterval(id);
  }, [end, clock, onTimeUp, announce]);

  const tone = left <= 60 ? 'danger' : left <= 300 ? 'warn' : 'ok';
  return (
    <div className={`timer timer-${tone}`}>
      <span className="timer-label">{t.exam.timeLeft}</span>
      <span className="timer-value" role="timer" aria-label={`${t.exam.timeLeft} ${formatClock(left)}`} data-testid="timer">
        {formatClock(left)}
      </span>
    </div>
  );
}
