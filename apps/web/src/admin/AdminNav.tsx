import { NavLink } from 'react-router';
import './admin.css';

const LINKS = [
  ['/admin', 'Dashboard'],
  ['/admin/products', 'Products'],
  ['/admin/orders', 'Orders'],
  ['/admin/users', 'Users'],
  ['/admin/reports', 'Reports'],
  ['/admin/jobs', 'Jobs'],
  ['/admin/support', 'Support'],
] as const;

export function AdminNav() {
  return (
    <nav className="subnav" aria-label="Admin">
      {LINKS.map(([to, label]) => (
        <NavLink key={to} to={to} end={to === '/admin'}>
          {label}
        </NavLink>
      ))}
    </nav>
  );
}
