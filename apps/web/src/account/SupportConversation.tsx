/** One of the customer's support conversations. */
import { Link, useParams } from 'react-router';
import { ChatPanel } from '../chat/ChatPanel.tsx';
import { RequireUser } from '../session.tsx';
import { AccountNav } from './AccountNav.tsx';

export default function SupportConversation() {
  const { id = '' } = useParams();
  return (
    <RequireUser>
      {() => (
        <>
          <h1>Support</h1>
          <AccountNav />
          <p>
            <Link to="/account/support">All conversations</Link>
          </p>
          <ChatPanel key={id} conversationId={id} side="customer" />
        </>
      )}
    </RequireUser>
  );
}
