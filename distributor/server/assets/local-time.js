// Progressive enhancement only: without it the UTC text of each <time data-local> stays, which is still right.
for (const t of document.querySelectorAll('time[data-local]')) {
  const d = new Date(t.getAttribute('datetime'));
  if (!isNaN(d)) t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) + ' (your time)';
}
