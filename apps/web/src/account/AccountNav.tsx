import { NavLink } from 'react-router';
import './account.css';

export function AccountNav() {
  return (
    <nav className="subnav" aria-label="Account">
      <NavLink to="/account" end>
        Profile
      </NavLink>
      <NavLink to="/orders">Orders</NavLink>
      <NavLink to="/account/notifications">Notifications</NavLink>
      <NavLink to="/account/support">Support</NavLink>
      <NavLink to="/account/sessions">Sessions</NavLink>
    </nav>
  );
}
