// The dashboard's period picker: presets fill the dates, a changed filter shows the new numbers.
// The page itself (numbers, charts, tables) is rendered on the server.

const form = document.querySelector('[data-testid="period-form"]');

function isoDay(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

if (form) {
  const from = form.elements.namedItem('from');
  const to = form.elements.namedItem('to');
  for (const button of form.querySelectorAll('button[data-days]')) {
    button.addEventListener('click', () => {
      const days = Number(button.dataset.days);
      const end = new Date();
      const start = new Date(end.getTime() - (days - 1) * 86400000);
      from.value = isoDay(start);
      to.value = isoDay(end);
      form.requestSubmit();
    });
  }
  for (const select of form.querySelectorAll('select')) {
    select.addEventListener('change', () => form.requestSubmit());
  }
  form.addEventListener('submit', () => {
    // Empty filters stay out of the address, so a shared link reads cleanly.
    for (const field of form.querySelectorAll('select')) {
      field.disabled = field.value === '';
    }
  });
}
